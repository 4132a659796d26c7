"""Words of the dashboard in French (the default) and English, and number formats.

Labels of the model's features come from the API in the requested language; this module only
holds the dashboard's own words.
"""

from __future__ import annotations

import math
import re
from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
DEFAULT_LANG: Lang = "fr"

#: How the dashboard writes numbers, in every formatter (texts, tables and charts alike).
#: French typography groups thousands with a narrow no-break space (U+202F, as CLDR's French
#: locale does): narrower than a word space, and a number never breaks across two lines.
#: (The API writes its own sentences with U+00A0; that is the API's choice.)
THOUSANDS_SEPARATOR: dict[Lang, str] = {"fr": "\u202f", "en": ","}
DECIMAL_MARK: dict[Lang, str] = {"fr": ",", "en": "."}
#: Between a number and its unit ("9,4 %", "+3,2 pts"): a no-break space, never a line break.
UNIT_SPACE = "\u00a0"

_WORDS: dict[str, tuple[str, str]] = {
    # frame
    "app_title": ("Prêt à dépenser · Scoring crédit", "Prêt à dépenser · Credit scoring"),
    "language": ("Langue", "Language"),
    "nav": ("Page", "Page"),
    "page_client": ("Dossier client", "Client file"),
    "page_new": ("Nouveau demandeur", "New applicant"),
    "page_model": ("Le modèle", "The model"),
    "api_ok": ("API disponible · modèle {version}", "API available · model {version}"),
    "api_down": ("API indisponible", "API unavailable"),
    # errors
    "err_config": (
        "Le tableau de bord n'est pas configuré : renseignez API_URL et API_TOKEN "
        "(variables d'environnement ou secrets Streamlit).",
        "The dashboard is not configured: set API_URL and API_TOKEN "
        "(environment variables or Streamlit secrets).",
    ),
    "err_unreachable": (
        "Le service de scoring ne répond pas. Vérifiez votre connexion puis réessayez ; "
        "si le problème persiste, prévenez le support.",
        "The scoring service does not answer. Check your connection and try again; "
        "if it persists, tell the support team.",
    ),
    "err_timeout": (
        "Le service de scoring met trop de temps à répondre. Réessayez dans un instant.",
        "The scoring service is taking too long to answer. Try again in a moment.",
    ),
    "err_unauthorized": (
        "Accès refusé par le service de scoring : le jeton d'accès est absent, invalide ou "
        "expiré. Prévenez le support.",
        "The scoring service refused access: the access token is missing, invalid or expired. "
        "Tell the support team.",
    ),
    "err_not_found": ("Introuvable : {detail}", "Not found: {detail}"),
    "err_invalid": (
        "La demande a été refusée car une valeur n'est pas valable : {detail}",
        "The request was refused because a value is not valid: {detail}",
    ),
    "err_unavailable": (
        "Le service de scoring est momentanément indisponible (modèle ou données en cours de "
        "chargement). Réessayez dans une minute.",
        "The scoring service is briefly unavailable (model or data loading). "
        "Try again in a minute.",
    ),
    "err_server": (
        "Le service de scoring a rencontré une erreur. Réessayez ; si elle persiste, "
        "prévenez le support.",
        "The scoring service hit an error. Try again; if it persists, tell the support team.",
    ),
    "err_page": (
        "Cette partie de la page n'a pas pu s'afficher. Rechargez la page ; si le problème "
        "persiste, prévenez le support.",
        "This part of the page could not be shown. Reload the page; if it persists, "
        "tell the support team.",
    ),
    "sign_in_title": ("Connexion des conseillers", "Advisors' sign-in"),
    "email": ("Adresse e-mail", "E-mail address"),
    "password": ("Mot de passe", "Password"),
    "sign_in": ("Se connecter", "Sign in"),
    "sign_out": ("Se déconnecter", "Sign out"),
    "sign_in_refused": ("Connexion refusée : {detail}", "Sign-in refused: {detail}"),
    "new_password_needed": (
        "Première connexion : choisissez votre mot de passe (12 caractères au moins, avec "
        "majuscules, minuscules et chiffres).",
        "First sign-in: choose your password (at least 12 characters, with upper- and "
        "lower-case letters and digits).",
    ),
    "new_password": ("Nouveau mot de passe", "New password"),
    "totp_needed": (
        "Saisissez le code à 6 chiffres de votre application d'authentification.",
        "Enter the 6-digit code of your authenticator app.",
    ),
    "totp_code": ("Code de vérification", "Verification code"),
    "new_password_again": ("Nouveau mot de passe, encore", "New password, again"),
    "passwords_differ": ("Les deux mots de passe diffèrent.", "The two passwords differ."),
    "sign_in_unsupported": (
        "cette étape de connexion n'est pas prise en charge, prévenez le support",
        "this sign-in step is not supported, tell the support team",
    ),
    "err_client_not_found": (
        "Ce client est introuvable : il n'est pas (ou plus) dans les dossiers.",
        "This client cannot be found: not (or no longer) on file.",
    ),
    "err_group_too_small": (
        "Ce groupe de comparaison est trop petit (moins de 100 clients de référence, ou moins "
        "de 20 par classe) : la comparaison porte sur tous les clients. Élargissez les filtres.",
        "This comparison group is too small (under 100 reference clients, or under 20 of a "
        "class): the comparison covers every client. Widen the filters.",
    ),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "retry": ("Réessayer", "Try again"),
    # find a client
    "find_title": ("Trouver un client", "Find a client"),
    "find_id": ("Numéro de client", "Client number"),
    "find_id_help": (
        "Le numéro du dossier, en chiffres (par exemple 100001).",
        "The file's number, in digits (for example 100001).",
    ),
    "find_open": ("Ouvrir le dossier", "Open the file"),
    "find_search": ("Ou rechercher dans la liste", "Or search the list"),
    "find_search_help": (
        "Début de numéro, ou mots (en français ou en anglais) : type de contrat, de revenu, "
        "niveau d'études, profession. Appuyez sur Entrée pour chercher.",
        "Start of a number, or words (in French or English): contract type, income type, "
        "education, occupation. Press Enter to search.",
    ),
    "choose": ("Choisissez…", "Choose…"),
    "choose_many": ("Choisissez une ou plusieurs options", "Choose one or more options"),
    "no_results": ("Aucun résultat", "No results"),
    "find_pick": ("Clients trouvés", "Clients found"),
    "find_none": ("Aucun client ne correspond à cette recherche.", "No client matches."),
    "find_more": ("Clients suivants", "Next clients"),
    "find_first": ("Début de la liste", "Back to the start"),
    "find_prompt": (
        "Saisissez un numéro de client ou choisissez un client dans la liste pour ouvrir son "
        "dossier.",
        "Enter a client number or pick a client from the list to open their file.",
    ),
    "client_unknown": (
        "Aucun nouveau client n'a le numéro {id}. Vérifiez le numéro, ou cherchez le "
        "client dans la liste ci-dessus.",
        "No new client has the number {id}. Check the number, or look for the client in the list "
        "above.",
    ),
    "list_row": (
        "{id} · {contract} · {income_type} · {age} · revenu {income} · crédit {credit}",
        "{id} · {contract} · {income_type} · {age} · income {income} · credit {credit}",
    ),
    # worklist (the landing page)
    "wl_title": ("Clients à traiter", "Clients to work through"),
    "wl_verdict": ("Avis du score", "What the score says"),
    "wl_verdict_all": ("Tous", "All"),
    "wl_verdict_accept": ("Accord net", "Clear accept"),
    "wl_verdict_borderline": ("À examiner", "To review"),
    "wl_verdict_refuse": ("Refus net", "Clear refuse"),
    "wl_pending": ("Seulement les dossiers sans décision", "Only files without a decision"),
    "wl_score": ("{verdict} · {prob}", "{verdict} · {prob}"),
    "wl_no_score": ("Pas de score", "No score"),
    "wl_decided": ("Décision enregistrée", "Decision recorded"),
    "wl_waiting": ("En attente de décision", "Waiting for a decision"),
    "wl_open": ("Ouvrir {id}", "Open {id}"),
    "wl_open_help": ("Ouvrir le dossier du client {id}", "Open client {id}'s file"),
    "wl_none": (
        "Aucun client de cette page ne correspond : passez aux clients suivants, ou élargissez "
        "les filtres.",
        "No client of this page matches: go on to the next clients, or widen the filters.",
    ),
    "wl_empty": ("Aucun client ne correspond à ces filtres.", "No client matches these filters."),
    # loading
    "loading_file": ("Chargement du dossier…", "Loading the file…"),
    "loading_tab": ("Chargement…", "Loading…"),
    "loading_cf": (
        "Recherche de ce qui permettrait un accord…",
        "Looking for what would get an accept…",
    ),
    # summary card
    "card_title": ("Client {id}", "Client {id}"),
    "section_identity": ("Identité", "Identity"),
    "section_family": ("Famille", "Family"),
    "section_employment": ("Emploi", "Employment"),
    "section_housing": ("Logement", "Housing"),
    "section_loan": ("Demande de crédit", "Loan request"),
    "section_income": ("Finances", "Finances"),
    "section_scores": ("Scores externes", "External scores"),
    "section_other": ("Autres informations", "Other information"),
    "card_more": ("Toutes les informations du dossier", "Every field of the file"),
    # score
    "score_title": ("Score", "Score"),
    "probability": ("Probabilité de défaut", "Probability of default"),
    "threshold": ("Seuil de décision", "Decision threshold"),
    "decision": ("Décision du modèle", "Model's decision"),
    "accept": ("Accord", "Accept"),
    "refuse": ("Refus", "Refuse"),
    "borderline": ("À examiner", "To review"),
    "verdict_accept": (
        "Probabilité de défaut **{prob}** pour un seuil de **{thr}** : {points} sous le seuil.",
        "Probability of default **{prob}** against a threshold of **{thr}**: {points} below "
        "the threshold.",
    ),
    "verdict_refuse": (
        "Probabilité de défaut **{prob}** pour un seuil de **{thr}** : {points} au-dessus du "
        "seuil.",
        "Probability of default **{prob}** against a threshold of **{thr}**: {points} above "
        "the threshold.",
    ),
    "verdict_borderline": (
        "Probabilité de défaut **{prob}** pour un seuil de **{thr}** : dans la zone "
        "d'incertitude du modèle, de {lower} à {upper}.",
        "Probability of default **{prob}** against a threshold of **{thr}**: inside the "
        "model's uncertainty zone, from {lower} to {upper}.",
    ),
    "band_reason": (
        "Dans cette zone, le modèle ne distingue pas de façon fiable les clients qui "
        "remboursent de ceux qui font défaut : examinez le dossier avec le client avant de "
        "décider.",
        "In this zone the model cannot reliably tell clients who repay from those who "
        "default: review the file with the client before deciding.",
    ),
    "band_zone": (
        "Zone à examiner : de {lower} à {upper} autour du seuil.",
        "Zone to review: from {lower} to {upper} around the threshold.",
    ),
    "reasons_refuse": ("Principaux motifs du refus", "Main reasons for the refusal"),
    "reasons_accept": (
        "Principaux éléments en faveur de l'accord",
        "Main points in favour of granting the loan",
    ),
    "reasons_borderline_refuse": (
        "Ce qui augmente le plus le risque",
        "What raises the risk most",
    ),
    "reasons_borderline_accept": (
        "Ce qui diminue le plus le risque",
        "What lowers the risk most",
    ),
    "cf_title": ("Ce qui permettrait un accord", "What would get the loan granted"),
    "cf_more": (
        "Autres possibilités ({n}) : onglet « Et si… ? ».",
        "More possibilities ({n}): the 'What if…?' tab.",
    ),
    "cf_options": (
        "Possibilités d'accord calculées par le modèle (la plus petite modification d'abord)",
        "Ways to a granted loan, computed by the model (smallest change first)",
    ),
    "cf_try": ("Simuler cette possibilité", "Simulate this possibility"),
    "gauge_alt": (
        "Jauge : probabilité de défaut {prob}, seuil {thr}{zone} ; décision : {decision}. "
        "Zone d'accord sous le seuil, zone de refus au-dessus.",
        "Gauge: probability of default {prob}, threshold {thr}{zone}; decision: {decision}. "
        "Accept zone below the threshold, refuse zone above.",
    ),
    "gauge_alt_zone": (
        ", zone à examiner de {lower} à {upper}",
        ", zone to review from {lower} to {upper}",
    ),
    "zone_accept": ("zone d'accord", "accept zone"),
    "zone_refuse": ("zone de refus", "refuse zone"),
    "zone_borderline": ("à examiner", "to review"),
    "model_version": ("Modèle {version}", "Model {version}"),
    "cost_note": (
        "Le seuil est choisi pour le coût métier : accorder un crédit qui ne sera pas "
        "remboursé coûte {fn} fois plus que refuser un bon client.",
        "The threshold is chosen for the business cost: granting a loan that is not repaid "
        "costs {fn} times more than refusing a good client.",
    ),
    # explanation
    "why_title": ("Pourquoi ce score ?", "Why this score?"),
    "why_top": ("Nombre de facteurs affichés", "Factors shown"),
    "why_base": (
        "Point de départ : le risque moyen des clients de référence, **{base}**. Chaque "
        "facteur ajoute ou retire des points de pourcentage ; ensemble ({total}), ils mènent "
        "à la probabilité de ce client, **{prob}**.",
        "Starting point: the average risk of reference clients, **{base}**. Each factor adds "
        "or removes percentage points; together ({total}) they lead to this client's "
        "probability, **{prob}**.",
    ),
    "why_none": ("Aucun", "None"),
    "why_axis": (
        "Effet en points de pourcentage (> 0 : plus de risque)",
        "Effect in percentage points (> 0: more risk)",
    ),
    "why_alt": (
        "Graphique en barres des {n} facteurs les plus influents, en points de pourcentage. "
        "{raise_n} augmentent le risque (barres hachurées, vers la droite), {lower_n} le "
        "diminuent (barres pleines, vers la gauche). Le plus fort : {first}.",
        "Bar chart of the {n} most influential factors, in percentage points. {raise_n} raise "
        "the risk (hatched bars, to the right), {lower_n} lower it (plain bars, to the left). "
        "Strongest: {first}.",
    ),
    "why_method": (
        "Effets calculés par TreeSHAP sur le modèle lui-même et exprimés en points de "
        "pourcentage : leur somme est exactement l'écart entre la probabilité du client et le "
        "risque moyen ({base}).",
        "Effects computed by TreeSHAP on the model itself and expressed in percentage points: "
        "they add up exactly to the gap between the client's probability and the average "
        "risk ({base}).",
    ),
    "why_all": ("Tous les facteurs, en détail", "Every factor, in detail"),
    "why_features": (
        "Détail par variable du modèle (pour les experts)",
        "Detail by model variable (for experts)",
    ),
    "col_factor": ("Facteur", "Factor"),
    "col_values": ("Valeurs du dossier", "Values on file"),
    "col_effect": ("Effet", "Effect"),
    "col_variable": ("Variable du modèle", "Model variable"),
    "col_value": ("Valeur", "Value"),
    "alt_caption": ("Description du graphique", "Chart description"),
    # compare
    "compare_title": ("Comparer avec les clients de référence", "Compare with reference clients"),
    "compare_features": ("Caractéristiques à comparer", "Features to compare"),
    "compare_group": ("Groupe de comparaison", "Comparison group"),
    "compare_group_help": (
        "« Comme le client » garde les clients de référence de la même catégorie.",
        "'Same as the client' keeps the reference clients of the same category.",
    ),
    "filter_all": ("Tous", "All"),
    "filter_same": ("Comme le client", "Same as the client"),
    "filter_age_band": ("Tranche d'âge", "Age band"),
    "filter_gender": ("Genre", "Gender"),
    "filter_contract_type": ("Type de contrat", "Contract type"),
    "filter_income_type": ("Type de revenu", "Income type"),
    "filter_education": ("Niveau d'études", "Education"),
    "group_size": (
        "Groupe : {size} clients de référence, dont {defaulted} en défaut ({rate}).",
        "Group: {size} reference clients, {defaulted} of whom defaulted ({rate}).",
    ),
    "repaid": ("Remboursé", "Repaid"),
    "defaulted": ("Défaut", "Defaulted"),
    "client_marker": ("Ce client", "This client"),
    "share_of_class": ("Part de la classe (%)", "Share of the class (%)"),
    "masked": ("Effectif masqué (< 5)", "Count hidden (< 5)"),
    "masked_hover": (
        "Effectif non publié : moins de 5 clients, ou masqué avec une telle case (confidentialité)",
        "Count not published: fewer than 5 clients, or hidden with such a cell (privacy)",
    ),
    "rate_masked_hover": (
        "Taux non publié : moins de 5 défauts ou de 5 remboursements dans cette case, "
        "ou effectif masqué (confidentialité)",
        "Rate not published: fewer than 5 defaults or 5 repayments in this cell, or a "
        "hidden count (privacy)",
    ),
    "rate_masked_note": (
        "Cases hachurées grises : taux non publié (moins de 5 défauts ou de 5 "
        "remboursements, ou effectif masqué) ; jamais affiché comme 0 %.",
        "Hatched grey cells: rate not published (fewer than 5 defaults or 5 repayments, or a "
        "hidden count); never shown as 0%.",
    ),
    "share_note": (
        "Part de chaque classe calculée sur tous ses clients du groupe ({repaid} remboursés, "
        "{defaulted} en défaut), effectifs masqués et non renseignés compris ; barres "
        "hachurées grises : effectif masqué, jamais affiché comme zéro.",
        "Each class's share computed over all its clients in the group ({repaid} repaid, "
        "{defaulted} defaulted), hidden and missing counts included; hatched grey bars: "
        "hidden count, never shown as zero.",
    ),
    "times": ("fois", "times"),
    "percentile": (
        "{label} : {value}, plus que {pct} des clients du groupe.",
        "{label}: {value}, more than {pct} of the group's clients.",
    ),
    "percentile_missing": (
        "{label} : non renseigné pour ce client.",
        "{label}: not given for this client.",
    ),
    "dist_alt": (
        "Histogrammes de {label} pour les clients qui ont remboursé (barres pleines) et ceux "
        "en défaut (barres hachurées) ; ligne verticale : ce client ({value}, {pct}e "
        "percentile).",
        "Histograms of {label} for clients who repaid (plain bars) and who defaulted (hatched "
        "bars); vertical line: this client ({value}, percentile {pct}).",
    ),
    "missing_note": (
        "Non renseigné : {repaid} remboursés, {defaulted} en défaut.",
        "Not given: {repaid} repaid, {defaulted} defaulted.",
    ),
    "hidden_cells": (
        "Les effectifs inférieurs à {n} ne sont pas publiés (confidentialité).",
        "Counts below {n} are not published (privacy).",
    ),
    "bivariate_title": ("Deux caractéristiques ensemble", "Two features together"),
    "bivariate_x": ("Axe horizontal", "Horizontal axis"),
    "bivariate_y": ("Axe vertical", "Vertical axis"),
    "default_rate": ("Taux de défaut", "Default rate"),
    "biv_alt": (
        "Carte du taux de défaut selon {x} et {y} ; plus la case est foncée, plus le taux "
        "est élevé. L'étoile marque ce client ({xv}, {yv}), dans une case au taux de {rate}.",
        "Map of the default rate by {x} and {y}; the darker the cell, the higher the rate. "
        "The star marks this client ({xv}, {yv}), in a cell with a rate of {rate}.",
    ),
    "similar_title": ("Clients similaires", "Similar clients"),
    "similar_neighbours": (
        "Les {k} clients de référence les plus similaires",
        "The {k} most similar reference clients",
    ),
    "similar_bin": (
        "Les {n} clients de référence au score voisin ({lower} à {upper})",
        "The {n} reference clients with a similar score ({lower} to {upper})",
    ),
    "similar_no_bin": (
        "Clients de référence au score voisin (non enregistré pour ce modèle)",
        "Reference clients with a similar score (not recorded for this model)",
    ),
    "similar_all": ("Tous les clients de référence", "Every reference client"),
    "similar_score": (
        "Ce client : probabilité de défaut (score)",
        "This client: probability of default (score)",
    ),
    "col_clients": ("Clients", "Clients"),
    "col_default_rate": ("Taux de défaut", "Default rate"),
    "similar_medians": (
        "Ce client et la médiane des clients similaires",
        "This client and the median of similar clients",
    ),
    "similar_medians_top": (
        "Caractéristiques liées aux principaux facteurs du score de ce client.",
        "Features tied to the main factors of this client's score.",
    ),
    "col_client": ("Ce client", "This client"),
    "col_median": ("Médiane des clients similaires", "Median of similar clients"),
    "feature": ("Caractéristique", "Feature"),
    "value": ("Valeur", "Value"),
    "not_given": ("non renseigné", "not given"),
    # what if
    "whatif_title": ("Et si… ?", "What if…?"),
    "whatif_intro": (
        "Modifiez les principales informations du dossier et recalculez le score. "
        "Le dossier enregistré n'est pas modifié.",
        "Change the main information of the file and compute the score again. "
        "The file on record is not changed.",
    ),
    "whatif_run": ("Recalculer le score", "Compute the score again"),
    "whatif_reset": ("Revenir au dossier", "Back to the file"),
    "whatif_result": ("Score simulé", "Simulated score"),
    "whatif_delta": (
        "{delta} par rapport au dossier ({before} → {after}).",
        "{delta} against the file ({before} → {after}).",
    ),
    "whatif_changed": ("Champs modifiés : {fields}", "Fields changed: {fields}"),
    "whatif_factors": (
        "Ce qui change, facteur par facteur (les {n} principaux de la simulation)",
        "What changes, factor by factor (the simulation's {n} main ones)",
    ),
    "col_file": ("Dossier", "File"),
    "col_simulated": ("Simulation", "Simulation"),
    "col_change": ("Écart", "Change"),
    "whatif_axis": (
        "Écart d'effet en points (simulation − dossier)",
        "Change of effect in points (simulation − file)",
    ),
    "whatif_alt": (
        "Graphique en barres de l'écart d'effet des {n} principaux facteurs entre le dossier "
        "et la simulation, en points ; barres hachurées vers la droite : le risque augmente. "
        "Le plus grand écart : {first}.",
        "Bar chart of the change of effect of the {n} main factors between the file and the "
        "simulation, in points; hatched bars to the right: the risk rises. Largest change: "
        "{first}.",
    ),
    "whatif_nochange": ("Aucun champ modifié.", "No field changed."),
    "income": ("Revenu annuel", "Annual income"),
    "credit": ("Montant du crédit", "Credit amount"),
    "annuity": ("Annuité", "Annuity"),
    "goods": ("Prix du bien financé", "Price of the goods"),
    "years_employed": ("Ancienneté dans l'emploi (années)", "Years in current job"),
    "no_job": ("Sans emploi (retraité, chômeur…)", "No job (pensioner, unemployed…)"),
    "no_job_help": (
        "Ignorée quand « Sans emploi » est coché.",
        "Ignored when 'No job' is ticked.",
    ),
    "age": ("Âge (années)", "Age (years)"),
    "children": ("Enfants", "Children"),
    "family_members": ("Personnes au foyer", "Family members"),
    "family_status": ("Situation familiale", "Family status"),
    "new_title": ("Nouveau demandeur", "New applicant"),
    "new_intro": (
        "Saisissez le dossier d'un demandeur qui n'est pas encore enregistré. Les champs "
        "laissés vides sont traités comme non renseignés.",
        "Enter the file of an applicant who is not on record yet. Fields left empty are "
        "treated as not given.",
    ),
    "new_more": ("Autres informations (facultatives)", "Other information (optional)"),
    "new_run": ("Calculer le score", "Compute the score"),
    "required": ("{label} · obligatoire", "{label} · required"),
    "required_group": (
        "{label} · obligatoire (un sur {n} suffit)",
        "{label} · required (one of {n} is enough)",
    ),
    "err_insufficient": (
        "Informations insuffisantes pour calculer le score. À compléter : {fields}.",
        "Not enough information to compute the score. Still needed: {fields}.",
    ),
    "or": ("ou", "or"),
    "invalid_number": (
        "« {text} » n'est pas un nombre : tapez par exemple {example}.",
        "'{text}' is not a number: type for instance {example}.",
    ),
    "out_of_bounds": (
        "{label} : la valeur doit être comprise entre {low} et {high}.",
        "{label}: the value must lie between {low} and {high}.",
    ),
    "fix_fields": (
        "Corrigez d'abord ces champs : {fields}.",
        "First correct these fields: {fields}.",
    ),
    "empty": ("— non renseigné —", "— not given —"),
    # decision
    "decide_title": ("Décision de l'agent", "Advisor's decision"),
    "decide_choice": ("Votre décision", "Your decision"),
    "decide_comment": ("Commentaire (motif, éléments vérifiés…)", "Comment (reason, checks…)"),
    "decide_submit": ("Enregistrer la décision", "Record the decision"),
    "decide_done": ("Décision enregistrée le {at}.", "Decision recorded on {at}."),
    "decide_history": ("Décisions précédentes", "Earlier decisions"),
    "decide_none": ("Aucune décision enregistrée pour ce client.", "No decision on record."),
    "decide_against": (
        "Votre décision diffère de celle du modèle : merci d'en donner le motif.",
        "Your decision differs from the model's: please give the reason.",
    ),
    "decide_need_reason": (
        "Un commentaire est nécessaire quand la décision diffère de celle du modèle.",
        "A comment is needed when the decision differs from the model's.",
    ),
    "decide_borderline": (
        "Dossier à examiner : le score ne tranche pas. Choisissez la décision et notez ce que "
        "vous avez vérifié.",
        "File to review: the score does not decide. Choose the decision and note what you checked.",
    ),
    "decide_need_choice": ("Choisissez une décision.", "Choose a decision."),
    "decide_need_check": (
        "Un commentaire est nécessaire pour un dossier à examiner : notez ce qui a été vérifié.",
        "A comment is needed for a file to review: note what was checked.",
    ),
    "decide_final": (
        "Décision finale : {decision}, le {at}, par {advisor}.",
        "Final decision: {decision}, on {at}, by {advisor}.",
    ),
    "decide_replace": (
        "Remplacer la décision finale du {at}",
        "Replace the final decision of {at}",
    ),
    "decide_need_replace": (
        "Une décision est déjà enregistrée : cochez « Remplacer la décision finale » pour la "
        "remplacer.",
        "A decision is already recorded: tick “Replace the final decision” to replace it.",
    ),
    "decide_reason": (
        "Motif de la décision contraire au modèle",
        "Reason for going against the model",
    ),
    "decide_confirm": (
        "Je confirme décider contre la décision du modèle ({model}).",
        "I confirm deciding against the model's decision ({model}).",
    ),
    "decide_need_override": (
        "Votre décision va contre celle du modèle : choisissez un motif, confirmez, puis "
        "enregistrez.",
        "Your decision goes against the model's: choose a reason, confirm, then record.",
    ),
    "decide_need_other": (
        "Le motif « Autre » demande un commentaire.",
        "The reason “Other” needs a comment.",
    ),
    "decide_not_recorded": (
        "Décision non enregistrée : {reason} Votre saisie est conservée.",
        "Decision not recorded: {reason} What you typed is kept.",
    ),
    "decide_stale": (
        "La liste ci-dessous est celle du dernier affichage ({reason}).",
        "The list below is the one last shown ({reason}).",
    ),
    "reason_garanties_supplementaires": ("Garanties supplémentaires", "Extra guarantees"),
    "reason_co_emprunteur": ("Co-emprunteur solvable", "Creditworthy co-borrower"),
    "reason_situation_verifiee": (
        "Situation vérifiée sur justificatifs",
        "Situation checked on documents",
    ),
    "reason_incoherence_declarations": ("Déclarations incohérentes", "Inconsistent declarations"),
    "reason_endettement_constate": ("Endettement constaté", "Debts found"),
    "reason_autre": ("Autre (préciser en commentaire)", "Other (explain)"),
    "col_status": ("Statut", "Status"),
    "col_reason": ("Motif", "Reason"),
    "status_final": ("finale", "final"),
    "status_replaced": ("remplacée", "replaced"),
    "col_at": ("Date", "Date"),
    "col_decision": ("Décision", "Decision"),
    "col_comment": ("Commentaire", "Comment"),
    "col_advisor": ("Agent", "Advisor"),
    "col_probability": ("Probabilité", "Probability"),
    "col_model": ("Modèle", "Model"),
    "col_imbalance": ("Déséquilibre des classes", "Class imbalance"),
    "model_dummy": ("Référence naïve (classe majoritaire)", "Naive baseline (majority class)"),
    "model_logistic": ("Régression logistique", "Logistic regression"),
    "model_lightgbm": ("LightGBM (arbres de décision boostés)", "LightGBM (boosted trees)"),
    "imbalance_none": ("aucune correction", "no correction"),
    "imbalance_class_weight": ("pondération des classes", "class weights"),
    "imbalance_undersample": ("sous-échantillonnage", "undersampling"),
    "model_data": (
        "Données d'entraînement : {file} (empreinte sha256 {sha}…).",
        "Training data: {file} (sha256 fingerprint {sha}…).",
    ),
    "model_use": ("Usage prévu", "Intended use"),
    "model_limits": ("Limites connues", "Known limits"),
    "importance_method": (
        "Moyenne de la valeur absolue des contributions TreeSHAP (log-odds) sur {n} clients "
        "d'entraînement.",
        "Mean absolute TreeSHAP contribution (log-odds) over {n} training clients.",
    ),
    # model page
    "model_title": ("Le modèle de scoring", "The scoring model"),
    "model_card": ("Fiche du modèle", "Model card"),
    "model_trained": ("Entraîné le", "Trained on"),
    "model_type": ("Type", "Type"),
    "model_clients": ("Clients d'entraînement", "Training clients"),
    "model_default_rate": ("Taux de défaut", "Default rate"),
    "metric_auc": ("AUC (validation croisée)", "AUC (cross-validated)"),
    "metric_cost": ("Coût moyen par client", "Mean cost per client"),
    "metric_recall": ("Défauts détectés (rappel)", "Defaults caught (recall)"),
    "metric_refusal": ("Taux de refus", "Refusal rate"),
    "model_candidates": ("Modèles comparés", "Models compared"),
    "importance_title": ("Importance globale des caractéristiques", "Global feature importance"),
    "importance_axis": ("Effet moyen sur le risque (|SHAP| moyen)", "Mean effect on the risk"),
    "importance_alt": (
        "Graphique en barres des {n} caractéristiques les plus influentes en moyenne. "
        "Les trois premières : {top}.",
        "Bar chart of the {n} most influential features on average. Top three: {top}.",
    ),
    "drift_title": ("Dérive des données", "Data drift"),
    "drift_none": (
        "Aucune analyse de dérive n'a encore été publiée.",
        "No drift analysis has been published yet.",
    ),
    "drift_verdict_drift": (
        "Dérive détectée : {n} variables sur {total} ont changé ({share}).",
        "Drift detected: {n} of {total} inputs changed ({share}).",
    ),
    "drift_verdict_ok": (
        "Pas de dérive d'ensemble : {n} variables sur {total} ont changé ({share}).",
        "No overall drift: {n} of {total} inputs changed ({share}).",
    ),
    "drift_verdict_few": (
        "Pas assez de données pour juger ({rows} lignes).",
        "Not enough data to judge ({rows} rows).",
    ),
    "drift_meta": (
        "Analyse du {at} : {ref} clients de référence contre {cur} nouveaux clients ; seuil "
        "d'alerte {thr} de variables en dérive.",
        "Analysis of {at}: {ref} reference clients against {cur} new clients; alert "
        "threshold {thr} of drifting inputs.",
    ),
    "drift_prediction": (
        "Scores : moyenne {ref} pour les clients de référence, {cur} pour les nouveaux "
        "(PSI {psi}).",
        "Scores: mean {ref} for reference clients, {cur} for new ones (PSI {psi}).",
    ),
    "drift_axis": ("PSI (indice de stabilité)", "PSI (population stability index)"),
    "drift_alt": (
        "Graphique en barres du PSI des {n} variables les plus changées ; les variables en "
        "dérive sont hachurées. Les plus changées : {top}.",
        "Bar chart of the PSI of the {n} most changed inputs; drifting inputs are hatched. "
        "Most changed: {top}.",
    ),
    # calibration and fairness (model page)
    "fairness_title": ("Calibration et équité", "Calibration and fairness"),
    "calibration_figures": (
        "Calibration (prédictions hors échantillon, {bins} classes de probabilité) : écart "
        "moyen entre probabilité prédite et taux de défaut observé (ECE) {ece}, score de "
        "Brier {brier}.",
        "Calibration (out-of-fold predictions, {bins} probability bins): mean gap between "
        "predicted probability and observed default rate (ECE) {ece}, Brier score {brier}.",
    ),
    "calibration_kept": (
        "Aucune correction : l'ECE ne dépasse pas {tol}.",
        "No correction: the ECE does not exceed {tol}.",
    ),
    "calibration_shifted": (
        "Corrigée par un décalage constant des log-odds ({shift}), intégré au modèle servi : "
        "ECE {before} avant correction.",
        "Corrected by a constant shift of the log-odds ({shift}), built into the served "
        "model: ECE {before} before the correction.",
    ),
    "fairness_none": (
        "Cette version du modèle n'a pas de mesure d'équité.",
        "This model version has no fairness figures.",
    ),
    "fairness_intro": (
        "Décisions par groupe sur les prédictions hors échantillon des {n} clients de "
        "référence, au seuil servi de {thr} (accord sous le seuil). Le genre n'est pas une "
        "entrée du modèle : il n'est lu que pour cette mesure.",
        "Decisions by group on the out-of-fold predictions of the {n} reference clients, at "
        "the served threshold of {thr} (approved below it). Gender is not a model input: it "
        "is read only for this measure.",
    ),
    "fairness_parity": (
        "Taux d'accord : {rates} — rapport {ratio} ({rule}).",
        "Approval rate: {rates} — ratio {ratio} ({rule}).",
    ),
    "fairness_parity_none": (
        "Taux d'accord : {rates} — rapport non calculable (moins de deux groupes d'au moins "
        "{n} clients).",
        "Approval rate: {rates} — no ratio (fewer than two groups of at least {n} clients).",
    ),
    "fairness_rule_met": (
        "règle des quatre cinquièmes respectée",
        "four-fifths rule met",
    ),
    "fairness_rule_broken": (
        "sous la règle des quatre cinquièmes : écart à examiner",
        "below the four-fifths rule: a gap to examine",
    ),
    "fairness_opportunity": (
        "Défauts refusés (taux de vrais positifs) : de {low} à {high}, soit un écart "
        "d'égalité des chances de {gap}.",
        "Defaulters refused (true-positive rate): from {low} to {high}, an equal-opportunity "
        "gap of {gap}.",
    ),
    "fairness_caption": (
        "{dimension} : décisions par groupe au seuil de {thr} (prédictions hors échantillon)",
        "{dimension}: decisions by group at the {thr} threshold (out-of-fold predictions)",
    ),
    "fairness_small": (
        "— : groupe de moins de {n} clients, taux non publiés (trop peu de clients pour "
        "conclure, et trop près des individus).",
        "—: a group of fewer than {n} clients, rates not published (too few clients to "
        "conclude, and too close to individuals).",
    ),
    "col_group": ("Groupe", "Group"),
    "col_approval": ("Taux d'accord", "Approval rate"),
    "col_default_approved": ("Défauts parmi les accordés", "Defaults among the approved"),
    "col_false_positive": (
        "Bons clients refusés (faux positifs)",
        "Good clients refused (false positives)",
    ),
    "col_false_negative": (
        "Défauts accordés (faux négatifs)",
        "Defaulters approved (false negatives)",
    ),
    "drifted": ("en dérive", "drifting"),
    "stable": ("stable", "stable"),
}


#: French typography: a no-break space before ":" (U+00A0) and a narrow one before ";", "?"
#: and "!" (U+202F), so that the sign never starts a line on its own.
_FRENCH_SPACES = str.maketrans({":": "\u00a0:", ";": "\u202f;", "?": "\u202f?", "!": "\u202f!"})


def french_spaces(text: str) -> str:
    """``text`` with the space before ``: ; ? !`` made no-break (French typography)."""
    return re.sub(r" ([:;?!])(?=\s|$|\*|»)", lambda m: m.group(1).translate(_FRENCH_SPACES), text)


def t(key: str, lang: Lang, **values: object) -> str:
    """The dashboard's text ``key`` in ``lang``, with ``values`` filled in."""
    fr, en = _WORDS[key]
    text = french_spaces(fr) if lang == "fr" else en
    return text.format(**values) if values else text


def word_for(prefix: str, code: str | None, lang: Lang) -> str:
    """The dashboard's words for an API code (``model_lightgbm``), else the code itself."""
    if code is None:
        return "—"
    key = f"{prefix}_{code}"
    return t(key, lang) if key in _WORDS else str(code)


def text_keys() -> list[str]:
    """Every text key (tests check each has both languages)."""
    return list(_WORDS)


def has_text(key: str) -> bool:
    """Whether the dashboard has words of its own for ``key``."""
    return key in _WORDS


def colon(lang: Lang) -> str:
    """Between a label and its value: French puts a no-break space before the colon."""
    return "\u00a0: " if lang == "fr" else ": "


def labelled(label: str, value: str, lang: Lang) -> str:
    """A label and its value in bold: "Âge : **23 ans**" / "Age: **23 years**"."""
    return f"{label}{colon(lang)}**{value}**"


def percent_sign(lang: Lang) -> str:
    """The percent sign as the language writes it after a number."""
    return f"{UNIT_SPACE}%" if lang == "fr" else "%"


def number(value: float, lang: Lang, decimals: int = 0) -> str:
    """A number with the language's separators: 1 234,5 in French, 1,234.5 in English."""
    text = f"{value:,.{decimals}f}"  # Python's own: "," for thousands, "." for decimals
    marks = {",": THOUSANDS_SEPARATOR[lang], ".": DECIMAL_MARK[lang]}
    return "".join(marks.get(c, c) for c in text)


def chart_separators(lang: Lang) -> str:
    """Plotly's ``separators``: the decimal mark, then the thousands separator."""
    return DECIMAL_MARK[lang] + THOUSANDS_SEPARATOR[lang]


def percent(share: float, lang: Lang, decimals: int = 1) -> str:
    """A share as a percentage: 0.094 -> '9,4 %' in French, '9.4%' in English."""
    text = number(100 * share, lang, decimals)
    return text + percent_sign(lang)


def points(share: float, lang: Lang) -> str:
    """A difference of probabilities in percentage points, without a sign, with its unit.

    French puts the unit in the singular under 2 ("1,5 point"), English only for exactly 1.
    """
    value = round(100 * abs(share), 1)
    singular = value < 2 if lang == "fr" else value == 1
    return f"{number(value, lang, 1)} {'point' if singular else 'points'}"


def signed_points(value: float, lang: Lang) -> str:
    """Percentage points given as such (3.2, not 0.032), signed and short: "+3,2 pts".

    The unit agrees with the number as in :func:`points` ("−1,5 pt", "+1.0 pt").
    """
    size = round(abs(value), 1)
    sign = "+" if value > 0 and size else "−" if value < 0 and size else "±"
    singular = size < 2 if lang == "fr" else size == 1
    return f"{sign}{number(size, lang, 1)}{UNIT_SPACE}{'pt' if singular else 'pts'}"


def money(value: float, lang: Lang) -> str:
    """An amount in euros, to the unit: "1 204 669 €" (narrow no-break spaces) / "€1,204,669"."""
    text = number(value, lang, 0)
    return f"{text}{UNIT_SPACE}€" if lang == "fr" else f"€{text}"


#: Ratios read as "times" something ("4,5 fois le revenu annuel"), the others as a share of
#: something ("15 % du revenu annuel"): feature -> (French, English) words after the number.
TIMES_RATIOS: dict[str, tuple[str, str]] = {
    "CREDIT_INCOME_RATIO": ("fois le revenu annuel", "times the annual income"),
    "CREDIT_GOODS_RATIO": ("fois le prix du bien", "times the price of the goods"),
}
SHARE_RATIOS: dict[str, tuple[str, str]] = {
    "ANNUITY_INCOME_RATIO": ("du revenu annuel", "of the annual income"),
    "ANNUITY_CREDIT_RATIO": ("du crédit", "of the credit"),
    "EMPLOYED_AGE_RATIO": ("de la vie", "of life"),
}


def ratio_text(value: float, feature: str | None, lang: Lang, short: bool = False) -> str:
    """A ratio as people read it: "4,5 fois le revenu annuel", "15 % du revenu annuel".

    ``short`` (chart axes): the number and its unit only, "4,5 fois" / "15 %".
    """
    if feature in SHARE_RATIOS:
        words = SHARE_RATIOS[feature][0 if lang == "fr" else 1]
        share = percent(value, lang, 0 if abs(value) >= 0.1 or short else 1)
        return share if short else f"{share} {words}"
    fr, en = TIMES_RATIOS.get(feature or "", ("fois", "times"))
    words = fr if lang == "fr" else en
    times = t("times", lang)
    decimals = 1 if abs(value) < 100 else 0
    return f"{number(value, lang, decimals)}{UNIT_SPACE}{times if short else words}"


def value_text(
    value: float | None, unit: str | None, lang: Lang, feature: str | None = None
) -> str:
    """A comparison feature's value in its unit, as the API names it (years, amount, ...)."""
    if value is None:
        return t("not_given", lang)
    if unit == "years":
        return f"{number(value, lang, 1)} {'ans' if lang == 'fr' else 'years'}"
    if unit == "amount":
        return money(value, lang)
    if unit == "ratio":
        return ratio_text(value, feature, lang)
    if unit in ("count", "rating"):
        return number(value, lang, 0)
    return number(value, lang, 2)


def compact_money(value: float, lang: Lang) -> str:
    """An amount on a chart's axis: "200 k€", "1,2 M€" / "€200k", "€1.2M"."""
    size = abs(value)
    if size >= 1e6:
        scaled, suffix = value / 1e6, "M"
    elif size >= 1e3:
        scaled, suffix = value / 1e3, "k"
    else:
        scaled, suffix = value, ""
    decimals = 0 if float(round(scaled, 1)).is_integer() else 1
    text = number(scaled, lang, decimals)
    if lang == "fr":
        return f"{text}{UNIT_SPACE}{suffix}€"
    return f"€{text}{suffix}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2, 2.5 or 5 times a power of ten), ``low`` to ``high``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def axis_text(value: float, unit: str | None, lang: Lang, feature: str | None = None) -> str:
    """A tick of a chart's axis in the same words as the texts (k€ / M€, "4,5 fois", "15 %")."""
    if unit == "amount":
        return compact_money(value, lang)
    if unit == "ratio":
        return ratio_text(value, feature, lang, short=True)
    if unit in ("count", "rating"):
        return number(value, lang, 0)
    if unit == "years":
        return number(value, lang, 0 if float(value).is_integer() else 1)
    decimals = 0 if float(value).is_integer() else 2
    return number(value, lang, decimals)


_THOUSANDS_WITH_DOTS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")


def parse_number(text: str, lang: Lang) -> float | None:
    """A number typed by an advisor, as the dashboard writes them or plainer; None if blank.

    Spaces of every kind and the euro sign are ignored ("1 204 669 €", "1204669"); French
    takes a decimal comma ("12,3") and English a decimal point ("12.3"); French also takes a
    decimal point, unless it groups thousands ("1.204.669"). Raises ValueError otherwise.
    """
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text)
    if not cleaned:
        return None
    if lang == "fr":
        if "," in cleaned:
            cleaned = cleaned.replace(".", "").replace(",", ".")
        elif _THOUSANDS_WITH_DOTS.match(cleaned):
            cleaned = cleaned.replace(".", "")
    else:
        cleaned = cleaned.replace(",", "")
    value = float(cleaned)  # ValueError for anything else
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value
