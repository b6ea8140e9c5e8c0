# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Non-English requests (es, de, fr, pt): the intent still applies, the cue words do not.

Instructions are written in the language; the content is in the language or, as often happens,
pasted in English. Families are named `<intent>.<lang>_<name>` so they can be held out too.
"""

from __future__ import annotations

from data.generator.frames import fam

LANGS = ("es", "de", "fr", "pt")

FRAMES = {
    "es": (
        fam("summarize", "es_resumen", "![Resume|Resúmeme|Haz un resumen de] {doc}[ en {n} puntos| en pocas líneas| por favor|]",
            "!¿Me puedes resumir {doc}[ para {audience_es}|]?", "!resumen rápido de {doc} porfa"),
        fam("transform", "es_reescribir", "![Reescribe|Corrige] {doc}[ con un tono más formal| sin faltas de ortografía|]",
            "!Traduce {doc} al [inglés|alemán|francés]", "!Pasa {doc} a una tabla[ con nombre, fecha e importe|]"),
        fam("classify", "es_clasificar", "!Clasifica {doc} como [positivo, negativo o neutro|urgente o normal|queja o consulta]",
            "!¿{doc_cap} es spam? Sí o no", "!Etiqueta {doc} por categoría"),
        fam("plan", "es_plan", "!¿Cómo organizo {task_es}? Dame los pasos", "!Hazme un plan paso a paso para {task_es}",
            "!Compara las opciones para {task_es} y recomienda una", content="no"),
        fam("generate_code", "es_codigo", "!Escribe una función en {plang} que {code_es}",
            "!¿Por qué falla este código?\n{content}", "!Necesito una consulta SQL que {sql_es}", content="maybe",
            genres=("code",)),
        fam("review_policy", "es_politica", "!¿{doc_cap} cumple con el RGPD?", "!Revisa {doc} según nuestra política de devoluciones",
            "!¿Podemos {action_es} según la ley?"),
        fam("chat", "es_charla", "!{chat_es}", "!Hola, {chat_es}", content="no"),
    ),
    "de": (
        fam("summarize", "de_zusammenfassung", "![Fass|Fasse] {doc} [kurz |]zusammen[, bitte|]",
            "!Bitte eine kurze Zusammenfassung von {doc}[ in {n} Stichpunkten|]", "!Was sind die wichtigsten Punkte in {doc}?"),
        fam("transform", "de_umschreiben", "![Formuliere|Schreibe] {doc} [höflicher|formeller|freundlicher] um",
            "!Übersetze {doc} ins [Englische|Spanische|Französische]", "!Korrigiere die Rechtschreibung in {doc}"),
        fam("classify", "de_klassifizieren", "!Ordne {doc} einer Kategorie zu: [Rechnung, Technik oder Sonstiges|dringend oder normal]",
            "!Ist {doc} positiv oder negativ?", "!Ist das Spam? Ja oder nein."),
        fam("plan", "de_plan", "!Erstelle einen Schritt-für-Schritt-Plan, um {task_de}", "!Wie sollten wir vorgehen, um {task_de}?",
            content="no"),
        fam("generate_code", "de_code", "!Schreib eine {plang}-Funktion, die {code_de}", "!Warum funktioniert dieser Code nicht?\n{content}",
            content="maybe", genres=("code",)),
        fam("review_policy", "de_richtlinie", "!Prüfe {doc} auf Verstöße gegen die DSGVO", "!Dürfen wir laut Richtlinie {action_de}?",
            "!Ist {doc} mit unseren Werberichtlinien vereinbar?"),
        fam("chat", "de_plaudern", "!{chat_de}", "!Hallo! {chat_de}", content="no"),
    ),
    "fr": (
        fam("summarize", "fr_resume", "![Résume|Fais un résumé de] {doc}[ en quelques lignes| en {n} points|]",
            "!Tu peux me résumer {doc} ?", "!Quels sont les points clés de {doc} ?"),
        fam("transform", "fr_reformuler", "![Reformule|Réécris] {doc} [de façon plus formelle|plus poliment|plus simplement]",
            "!Traduis {doc} en [anglais|espagnol|allemand]", "!Corrige les fautes dans {doc}"),
        fam("classify", "fr_classer", "!Classe {doc} : [positif, négatif ou neutre|urgent ou non|réclamation ou question]",
            "!Est-ce que {doc} est du spam ? Oui ou non"),
        fam("plan", "fr_plan", "!Fais-moi un plan étape par étape pour {task_fr}", "!Comment devrions-nous nous organiser pour {task_fr} ?",
            content="no"),
        fam("generate_code", "fr_code", "!Écris une fonction {plang} qui {code_fr}", "!Pourquoi ce code plante ?\n{content}",
            content="maybe", genres=("code",)),
        fam("review_policy", "fr_conformite", "!Vérifie si {doc} est conforme au RGPD", "!A-t-on le droit de {action_fr} ?",
            "!Est-ce que {doc} respecte notre politique de remboursement ?"),
        fam("chat", "fr_discussion", "!{chat_fr}", "!Salut ! {chat_fr}", content="no"),
    ),
    "pt": (
        fam("summarize", "pt_resumo", "![Resuma|Faz um resumo de|Resume] {doc}[ em poucas linhas| em {n} tópicos|]",
            "!Pode resumir {doc} pra mim?", "!Quais são os pontos principais de {doc}?"),
        fam("transform", "pt_reescrever", "![Reescreva|Reescreve] {doc} [de forma mais formal|com um tom mais simpático]",
            "!Traduza {doc} para o [inglês|espanhol|alemão]", "!Corrija os erros de português em {doc}"),
        fam("classify", "pt_classificar", "!Classifique {doc} como [positivo, negativo ou neutro|urgente ou normal]",
            "!{doc_cap} é spam? Sim ou não"),
        fam("plan", "pt_plano", "!Me dá um plano passo a passo para {task_pt}", "!Como devemos organizar {task_pt}?",
            content="no"),
        fam("generate_code", "pt_codigo", "!Escreva uma função em {plang} que {code_pt}", "!Por que este código dá erro?\n{content}",
            content="maybe", genres=("code",)),
        fam("review_policy", "pt_politica", "!Verifique se {doc} está de acordo com a LGPD", "!Podemos {action_pt} segundo a política da empresa?"),
        fam("chat", "pt_conversa", "!{chat_pt}", "!Oi! {chat_pt}", content="no"),
    ),
}

DOC_REF = {
    "es": ("este correo", "el siguiente texto", "este mensaje", "esta reseña", "este documento", "esto"),
    "de": ("diese E-Mail", "den folgenden Text", "diese Nachricht", "dieses Dokument", "das hier"),
    "fr": ("cet e-mail", "le texte suivant", "ce message", "cet avis", "ce document", "ça"),
    "pt": ("este e-mail", "o texto abaixo", "esta mensagem", "esta avaliação", "este documento", "isto"),
}

CONTENT = {
    "es": ("El pedido {order} llegó con {n} días de retraso y la caja estaba rota.",
           "{first} pide que le devolvamos {amount} antes del {date}.",
           "La reunión del lunes se movió al jueves por la tarde.", "El cliente está muy molesto y quiere hablar con un responsable.",
           "Las ventas del trimestre subieron un {pct} respecto al año pasado.", "Necesitamos cerrar el presupuesto antes de fin de mes.",
           "La aplicación se cierra cada vez que intento pagar.", "Me encantó el producto, lo recomiendo totalmente."),
    "de": ("Die Lieferung {order} kam {n} Tage zu spät an.", "{first} bittet um Rückerstattung von {amount} bis zum {date}.",
           "Das Meeting wurde auf Donnerstag verschoben.", "Der Kunde ist sehr verärgert und möchte einen Vorgesetzten sprechen.",
           "Der Umsatz stieg im Quartal um {pct}.", "Die App stürzt jedes Mal beim Bezahlen ab.",
           "Wir müssen das Budget bis Monatsende abschließen.", "Tolles Produkt, klare Empfehlung."),
    "fr": ("La commande {order} est arrivée avec {n} jours de retard.", "{first} demande un remboursement de {amount} avant le {date}.",
           "La réunion a été déplacée à jeudi après-midi.", "Le client est très mécontent et veut parler à un responsable.",
           "Le chiffre d'affaires a augmenté de {pct} ce trimestre.", "L'application plante à chaque paiement.",
           "Nous devons boucler le budget avant la fin du mois.", "Produit génial, je recommande."),
    "pt": ("O pedido {order} chegou com {n} dias de atraso.", "{first} pede o reembolso de {amount} até {date}.",
           "A reunião foi remarcada para quinta-feira à tarde.", "O cliente está muito irritado e quer falar com um gerente.",
           "As vendas do trimestre subiram {pct}.", "O aplicativo fecha toda vez que tento pagar.",
           "Precisamos fechar o orçamento até o fim do mês.", "Adorei o produto, recomendo muito."),
}

FILL = {
    "es": {"task_es": ("lanzar la nueva tienda online", "mudar la oficina en {n} semanas", "reducir los tiempos de respuesta"),
           "code_es": ("valide direcciones de correo", "sume los importes por cliente", "elimine duplicados de una lista"),
           "sql_es": ("cuente pedidos por mes", "devuelva los 10 clientes con más compras"),
           "action_es": ("guardar los datos de tarjeta de los clientes", "grabar las llamadas sin avisar"),
           "chat_es": ("¿qué libro me recomiendas para las vacaciones?", "cuéntame un chiste", "¿por qué el cielo es azul?",
                       "¿qué puedo cocinar con arroz y huevos?"),
           "audience_es": ("mi jefe", "el equipo", "un cliente")},
    "de": {"task_de": ("den neuen Onlineshop zu starten", "das Büro in {n} Wochen umzuziehen", "die Antwortzeiten zu senken"),
           "code_de": ("E-Mail-Adressen validiert", "Beträge pro Kunde summiert", "Duplikate aus einer Liste entfernt"),
           "action_de": ("Kundendaten an einen Dienstleister in den USA zu schicken", "Bewerber nach ihrem Alter zu fragen"),
           "chat_de": ("Welches Buch empfiehlst du für den Urlaub?", "Erzähl mir einen Witz.", "Warum ist der Himmel blau?",
                       "Was kann ich heute Abend kochen?")},
    "fr": {"task_fr": ("lancer la nouvelle boutique en ligne", "déménager le bureau en {n} semaines", "réduire les délais de réponse"),
           "code_fr": ("valide des adresses e-mail", "additionne les montants par client", "supprime les doublons d'une liste"),
           "action_fr": ("garder les CV pendant cinq ans", "envoyer des e-mails aux clients désinscrits"),
           "chat_fr": ("tu me conseilles quel livre pour les vacances ?", "raconte-moi une blague", "pourquoi le ciel est bleu ?",
                       "qu'est-ce que je peux cuisiner ce soir ?")},
    "pt": {"task_pt": ("o lançamento da nova loja online", "a mudança do escritório em {n} semanas", "a redução do tempo de resposta"),
           "code_pt": ("valide endereços de e-mail", "some os valores por cliente", "remova duplicados de uma lista"),
           "action_pt": ("guardar os dados do cartão dos clientes", "gravar as ligações sem avisar"),
           "chat_pt": ("que livro você recomenda para as férias?", "me conta uma piada", "por que o céu é azul?",
                       "o que eu posso cozinhar hoje?")},
}
